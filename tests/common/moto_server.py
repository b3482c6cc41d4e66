"""moto_server, with each DynamoDB and DynamoDB Streams request made atomic, as DynamoDB's are.

moto's server answers each request on a thread of its own, and its DynamoDB holds no lock: a
stream shard numbers a new record by the length of its list, so two writes at once can get the
same sequence number (measured: 3 runs in 90 of 100 concurrent PutItems; none in 150 with the
lock below). DynamoDB gives every record of a shard a number of its own, in order. One lock
around moto's DynamoDB and Streams handlers makes them so; no DynamoDB call waits on another
(none long-polls), so nothing hangs. SQS and EventBridge are left as moto runs them: a long
poll must not hold the lock.

Run as moto_server is: python moto_server.py -H 127.0.0.1 -p PORT
"""

import threading

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.server import main

_lock = threading.Lock()


def _atomic(call_action):
    def locked(self):
        with _lock:
            return call_action(self)

    return locked


DynamoHandler.call_action = _atomic(DynamoHandler.call_action)
DynamoDBStreamsHandler.call_action = _atomic(DynamoDBStreamsHandler.call_action)

if __name__ == "__main__":
    main()
