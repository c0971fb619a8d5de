# remote command server, fixed with a JSON header: struct.pack('i', len(header)) + header + body
import json
import os
import socket
import struct
import subprocess

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 8090))))
server.listen(5)
print('listening', flush=True)
conn, addr = server.accept()
while True:
    data = conn.recv(1024).decode('utf-8')
    if len(data) == 0:
        break
    obj = subprocess.Popen(data, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout = obj.stdout.read()
    stderr = obj.stderr.read()
    header_dic = {
        'filename': 'cls.avi',
        'len': len(stderr + stdout),
    }
    header_bytes = json.dumps(header_dic).encode('utf-8')
    header = struct.pack('i', len(header_bytes))
    conn.send(header)
    conn.send(header_bytes)
    conn.send(stdout + stderr)
conn.close()
server.close()
