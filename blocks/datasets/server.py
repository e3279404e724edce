"""A data server: read a stream in one process, train on its data in another.

:func:`start_server` serves the items of a stream over TCP to a
:class:`~blocks.datasets.streams.ServerDataStream`, epoch after epoch, as Fuel's
``fuel.server.start_server`` does; the client asks for items ahead of need (``hwm``),
so reading and preparing data overlaps with training, even on another machine.

Typical use: a script ``serve.py`` running ``start_server(stream, port=5557)``, and
the training script reading ``ServerDataStream(('features', 'targets'), False)``.
"""

import logging
from multiprocessing.connection import Listener

from blocks.datasets.streams import SERVER_DATA, SERVER_END_OF_EPOCH

__all__ = ["start_server"]

logger = logging.getLogger(__name__)


def start_server(data_stream, port=5557, hwm=10, host="localhost", authkey=None):
    """Serve the items of `data_stream` forever, to one client at a time.

    After each epoch the server sends an end-of-epoch mark and starts the next epoch.
    When a client disconnects the server waits for the next one, which continues where
    the server is; the items it had sent ahead to the client that left are lost with it
    (as with Fuel's server).

    Parameters
    ----------
    data_stream : stream
    port : int, optional
        Defaults to 5557, Fuel's port.
    hwm : int, optional
        Accepted for Fuel's signature; the client's `hwm` bounds how far ahead the
        server sends.
    host : str, optional
        The interface to listen on: ``'localhost'`` (the default) or ``''`` for all.
    authkey : bytes, optional
        A key clients must present.
    """
    del hwm  # the client grants the credits
    with Listener((host, port), authkey=authkey) as listener:
        logger.info("data server listening on %s:%d", host or "*", port)
        position = {"epoch": data_stream.get_epoch_iterator()}
        while True:
            with listener.accept() as connection:
                try:
                    _serve(connection, data_stream, position)
                except (EOFError, OSError):
                    logger.info("data server: the client left")


def _serve(connection, data_stream, position):
    """Send an item for each credit the client grants, until it disconnects.

    ``position['epoch']`` is the current epoch iterator, kept for the next client.
    """
    while True:
        connection.recv_bytes()  # a credit; raw bytes, never unpickled
        try:
            message = (SERVER_DATA, tuple(next(position["epoch"])))
        except StopIteration:
            position["epoch"] = data_stream.get_epoch_iterator()
            message = (SERVER_END_OF_EPOCH, None)
        connection.send(message)
