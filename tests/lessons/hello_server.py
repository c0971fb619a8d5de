# server: two recv(1024) calls (the lesson's client-side sticking)
import os
import socket

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 9904))))
server.listen(5)
print('listening', flush=True)
conn, addr = server.accept()
res1 = conn.recv(1024)
print('第一次', res1, flush=True)
res2 = conn.recv(1024)
print('第二次', res2, flush=True)
conn.close()
server.close()
