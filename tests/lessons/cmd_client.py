# remote command client without a header: one recv(1024) per command
import os
import socket

phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
phone.connect((os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 8080))))
while 1:
    try:
        cmd = input('>>>')
    except EOFError:
        break
    phone.send(cmd.encode('utf-8'))
    data = phone.recv(1024)
    print(repr(data), flush=True)
phone.close()
