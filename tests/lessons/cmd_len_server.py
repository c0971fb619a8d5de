# remote command server, fixed: a 4-byte struct.pack('i') length before the output
import os
import socket
import struct
import subprocess

phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
phone.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
phone.bind((os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 8080))))
phone.listen(5)
print('listening', flush=True)
conn, client_addr = phone.accept()
while 1:
    cmd = conn.recv(1024)
    if not cmd:
        break
    ret = subprocess.Popen(cmd.decode('utf-8'), shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    correct_msg = ret.stdout.read()
    error_msg = ret.stderr.read()
    total_size = len(correct_msg) + len(error_msg)
    ret = struct.pack('i', total_size)
    conn.send(ret)
    conn.send(correct_msg + error_msg)
conn.close()
phone.close()
