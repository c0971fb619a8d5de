# remote command client, fixed: read the 4-byte length, then exactly that many bytes
import os
import socket
import struct

phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
phone.connect((os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 8080))))
while 1:
    try:
        cmd = input('>>>')
    except EOFError:
        break
    phone.send(cmd.encode('utf-8'))
    data_head = phone.recv(4)
    total_size = struct.unpack('i', data_head)[0]
    total_data = b''
    while len(total_data) < total_size:
        total_data += phone.recv(1024)
    print(repr(total_data), flush=True)
phone.close()
