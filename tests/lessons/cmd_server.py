# remote command server without a header: the output is sent as it is
import os
import socket
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
    conn.send(correct_msg + error_msg)
conn.close()
phone.close()
