"""The data server and ServerDataStream, across two real processes."""

import multiprocessing
import pickle
import socket
import time

import numpy as np
import pytest

from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.datasets.server import start_server
from blocks.datasets.streams import ServerDataStream

FEATURES = np.arange(14.0).reshape(7, 2)


def free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def serve(port):
    stream = DataStream(IndexableDataset({"features": FEATURES}), SequentialScheme(7, 3))
    start_server(stream, port=port, authkey=b"blocks-test")


@pytest.fixture
def server():
    port = free_port()
    process = multiprocessing.get_context("fork").Process(target=serve, args=(port,),
                                                           daemon=True)
    process.start()
    yield port
    process.terminate()
    process.join()


def connect(port, hwm=2):
    stream = ServerDataStream(("features",), produces_examples=False, port=port, hwm=hwm,
                              authkey=b"blocks-test")
    for _ in range(100):  # the server may still be starting
        try:
            stream.connect()
            return stream
        except ConnectionError:
            time.sleep(0.05)
    raise AssertionError("the data server did not start")


def test_server_data_stream_receives_epochs(server):
    stream = connect(server)
    assert stream.sources == ("features",) and not stream.produces_examples
    for _ in range(2):
        batches = [features for features, in stream.get_epoch_iterator()]
        assert [len(batch) for batch in batches] == [3, 3, 1]
        np.testing.assert_array_equal(np.concatenate(batches), FEATURES)
    copy = pickle.loads(pickle.dumps(stream))
    assert not copy.connected
    stream.close()
    # The next client continues where the server is: the two batches of the third epoch
    # sent ahead to the first client are gone with it.
    again = connect(server, hwm=1)
    (rest,) = list(again.get_epoch_iterator(as_dict=True))
    np.testing.assert_array_equal(rest["features"], FEATURES[6:])
    assert len(list(again.get_epoch_iterator(as_dict=True))) == 3
    again.close()


def test_server_data_stream_without_a_server():
    stream = ServerDataStream(("x",), True, port=free_port())
    with pytest.raises(ConnectionError, match=r"no data server at localhost:\d+; start one "
                                              r"with blocks.datasets.server.start_server"):
        next(stream.get_epoch_iterator())
    with pytest.raises(ValueError, match="does not take requests"):
        stream.get_data(request=1)
