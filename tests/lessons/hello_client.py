# client: send('hello'), send('world'), close
import os
import socket

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((os.environ.get('LESSON_ADDR', '127.0.0.1'), int(os.environ.get('LESSON_PORT', 9904))))
client.send('hello'.encode('utf-8'))
client.send('world'.encode('utf-8'))
client.close()
