# UDP client: one 2,000-byte datagram, then the answer
import os
import socket

ip_port = (os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 9000)))
udp_sk = socket.socket(type=socket.SOCK_DGRAM)
udp_sk.sendto(b'x' * 2000, ip_port)
back_msg, addr = udp_sk.recvfrom(1024)
print(back_msg, flush=True)
udp_sk.close()
