# UDP server: recvfrom(1024), whatever the datagram's size
import os
import socket

udp_sk = socket.socket(type=socket.SOCK_DGRAM)
udp_sk.bind((os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 9000))))
print('listening', flush=True)
msg, addr = udp_sk.recvfrom(1024)
print(len(msg), msg[:8], flush=True)
udp_sk.sendto(b'hi', addr)
udp_sk.close()
