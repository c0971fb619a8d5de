# remote command client with a JSON header: 4-byte header length, the header, then 'len' bytes
import json
import os
import socket
import struct

client = socket.socket()
client.connect((os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 8090))))
while True:
    try:
        msg = input(">>>").encode('utf-8')
    except EOFError:
        break
    if len(msg) == 0:
        continue
    client.send(msg)
    header = client.recv(4)
    head_len = struct.unpack('i', header)[0]
    head_dic = json.loads(client.recv(head_len).decode('utf-8'))
    print(head_dic, flush=True)
    total_size = head_dic['len']
    recv_size = 0
    res = b''
    while recv_size < total_size:
        data = client.recv(1024)
        res += data
        recv_size += len(data)
    print(repr(res), flush=True)
client.close()
