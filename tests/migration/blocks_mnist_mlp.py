"""Blocks' introductory tutorial (an MLP on MNIST), ported by renaming only.

Written as Blocks' documentation teaches it, with ``from theano import tensor`` and
``from fuel.datasets import MNIST`` ..., plus what Blocks-era scripts added to it: an
MLP whose dims are completed after construction, an error rate monitored through
``aggregation.mean`` (named after its numerator), ``Timing`` and a ``None`` among the
extensions. Then ``theano`` was renamed to ``pytensor`` and ``fuel`` to
``blocks.datasets``. MNIST is read from the data path (``BLOCKS_DATA_PATH``).
"""

from pytensor import tensor

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, Rectifier, Softmax
from blocks.bricks.cost import CategoricalCrossEntropy
from blocks.datasets.datasets import MNIST
from blocks.datasets.schemes import SequentialScheme
from blocks.datasets.streams import DataStream
from blocks.datasets.transformers import Flatten
from blocks.extensions import FinishAfter, Printing, Timing
from blocks.extensions.monitoring import DataStreamMonitoring, TrainingDataMonitoring
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph
from blocks.initialization import Constant, IsotropicGaussian
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.monitoring import aggregation
from blocks.roles import WEIGHT

x = tensor.matrix('features')
y = tensor.lmatrix('targets')

mlp = MLP(activations=[Rectifier(), Softmax()], dims=None)
mlp.dims = [784, 100, 10]
mlp.weights_init = IsotropicGaussian(0.01)
mlp.biases_init = Constant(0)
mlp.initialize()
y_hat = mlp.apply(x)

cost = CategoricalCrossEntropy().apply(y.flatten(), y_hat)
cg = ComputationGraph(cost)
W1, W2 = VariableFilter(roles=[WEIGHT])(cg.variables)
cost = cost + 0.005 * (W1 ** 2).sum() + 0.005 * (W2 ** 2).sum()
cost.name = 'cost_with_regularization'

misclassified = tensor.neq(y.flatten(), y_hat.argmax(axis=1)).sum()
misclassified.name = 'misclassified'
error_rate = aggregation.mean(misclassified, x.shape[0])

mnist = MNIST(("train",))
data_stream = Flatten(DataStream.default_stream(
    mnist, iteration_scheme=SequentialScheme(mnist.num_examples, batch_size=2)))
mnist_test = MNIST(("test",))
data_stream_test = Flatten(DataStream.default_stream(
    mnist_test, iteration_scheme=SequentialScheme(mnist_test.num_examples, batch_size=2)))

algorithm = GradientDescent(cost=cost, parameters=cg.parameters,
                            step_rule=Scale(learning_rate=0.1))
monitor = DataStreamMonitoring(variables=[cost, error_rate], data_stream=data_stream_test,
                               prefix="test")
train_monitor = TrainingDataMonitoring([cost, error_rate], prefix="train", after_epoch=True)

main_loop = MainLoop(data_stream=data_stream, algorithm=algorithm, model=Model(cost),
                     extensions=[Timing(), monitor, train_monitor,
                                 FinishAfter(after_n_epochs=2), Printing(), None])
main_loop.run()
