"""A Blocks-era attention encoder-decoder, ported by renaming only.

Written against Blocks' documentation and its machine-translation example (a
bidirectional GRU encoder; a GRU decoder whose initial state is computed from the
attended sequence, with its own ``_allocate`` that creates no initial-state parameter;
content-based attention; a Maxout readout), with ``import theano`` / ``from theano
import tensor`` and ``from fuel... import ...``. Then ``theano`` was renamed to
``pytensor`` and ``fuel`` to ``blocks.datasets``; nothing else was changed. The task is
tiny (reverse short random sequences) so that it trains a few batches in seconds.
"""

import numpy
from pytensor import tensor

from blocks.algorithms import AdaDelta, CompositeRule, GradientDescent, StepClipping
from blocks.bricks import (
    MLP,
    Bias,
    Initializable,
    Linear,
    Maxout,
    Tanh,
)
from blocks.bricks.attention import SequenceContentAttention
from blocks.bricks.base import application
from blocks.bricks.lookup import LookupTable
from blocks.bricks.parallel import Fork
from blocks.bricks.recurrent import Bidirectional, GatedRecurrent
from blocks.bricks.sequence_generators import (
    LookupFeedback,
    Readout,
    SequenceGenerator,
    SoftmaxEmitter,
)
from blocks.bricks.sequences import FeedforwardSequence
from blocks.datasets.datasets import IterableDataset
from blocks.datasets.schemes import ConstantScheme
from blocks.datasets.streams import DataStream
from blocks.datasets.transformers import Batch, Padding
from blocks.extensions import FinishAfter, Printing, Timing
from blocks.extensions.monitoring import TrainingDataMonitoring
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph
from blocks.initialization import Constant, IsotropicGaussian, Orthogonal
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.roles import WEIGHT, add_role
from blocks.utils import dict_union, shared_floatx_nans

VOCABULARY = 7
EMBEDDING = 4
STATE = 6
BATCH = 4


class InitializableFeedforwardSequence(FeedforwardSequence, Initializable):
    pass


class BidirectionalWMT15(Bidirectional):
    """Forward and backward halves get their own (forked) inputs."""

    @application
    def apply(self, forward_dict, backward_dict):
        forward = self.children[0].apply(as_list=True, **forward_dict)
        backward = [x[::-1] for x in
                    self.children[1].apply(reverse=True, as_list=True, **backward_dict)]
        return [tensor.concatenate([f, b], axis=2) for f, b in zip(forward, backward)]


class BidirectionalEncoder(Initializable):
    def __init__(self, vocab_size, embedding_dim, state_dim, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.state_dim = state_dim
        self.lookup = LookupTable(name='embeddings')
        self.bidir = BidirectionalWMT15(GatedRecurrent(activation=Tanh(), dim=state_dim))
        self.fwd_fork = Fork([name for name in self.bidir.prototype.apply.sequences
                              if name != 'mask'], prototype=Linear(), name='fwd_fork')
        self.back_fork = Fork([name for name in self.bidir.prototype.apply.sequences
                               if name != 'mask'], prototype=Linear(), name='back_fork')
        self.children = [self.lookup, self.bidir, self.fwd_fork, self.back_fork]

    def _push_allocation_config(self):
        self.lookup.length = self.vocab_size
        self.lookup.dim = self.embedding_dim
        self.fwd_fork.input_dim = self.embedding_dim
        self.fwd_fork.output_dims = [self.bidir.children[0].get_dim(name)
                                     for name in self.fwd_fork.output_names]
        self.back_fork.input_dim = self.embedding_dim
        self.back_fork.output_dims = [self.bidir.children[1].get_dim(name)
                                      for name in self.back_fork.output_names]

    @application(inputs=['source_sentence', 'source_sentence_mask'],
                 outputs=['representation'])
    def apply(self, source_sentence, source_sentence_mask):
        source_sentence = source_sentence.T
        source_sentence_mask = source_sentence_mask.T
        embeddings = self.lookup.apply(source_sentence)
        representation = self.bidir.apply(
            dict_union(self.fwd_fork.apply(embeddings, as_dict=True),
                       {'mask': source_sentence_mask}),
            dict_union(self.back_fork.apply(embeddings, as_dict=True),
                       {'mask': source_sentence_mask}))
        return representation


class GRUInitialState(GatedRecurrent):
    """A GRU whose initial state is a transformation of the attended sequence."""

    def __init__(self, attended_dim, **kwargs):
        super().__init__(**kwargs)
        self.attended_dim = attended_dim
        self.initial_transformer = MLP(activations=[Tanh()],
                                       dims=[attended_dim, self.dim],
                                       name='state_initializer')
        self.children.append(self.initial_transformer)

    @application
    def initial_states(self, batch_size, *args, **kwargs):
        attended = kwargs['attended']
        initial_state = self.initial_transformer.apply(
            attended[0, :, -self.attended_dim:])
        return initial_state

    def _allocate(self):
        self.parameters.append(shared_floatx_nans((self.dim, self.dim),
                                                  name='state_to_state'))
        self.parameters.append(shared_floatx_nans((self.dim, 2 * self.dim),
                                                  name='state_to_gates'))
        for parameter in self.parameters:
            add_role(parameter, WEIGHT)


class Decoder(Initializable):
    def __init__(self, vocab_size, embedding_dim, state_dim, representation_dim,
                 **kwargs):
        super().__init__(**kwargs)
        self.transition = GRUInitialState(attended_dim=state_dim, dim=state_dim,
                                          activation=Tanh(), name='decoder')
        self.attention = SequenceContentAttention(
            state_names=self.transition.apply.states,
            attended_dim=representation_dim, match_dim=state_dim, name="attention")
        readout = Readout(
            source_names=['states', 'feedback', self.attention.take_glimpses.outputs[0]],
            readout_dim=vocab_size,
            emitter=SoftmaxEmitter(initial_output=-1, theano_seed=1),
            feedback_brick=LookupFeedback(vocab_size, embedding_dim),
            post_merge=InitializableFeedforwardSequence(
                [Bias(dim=state_dim, name='maxout_bias').apply,
                 Maxout(num_pieces=2, name='maxout').apply,
                 Linear(input_dim=state_dim // 2, output_dim=embedding_dim,
                        use_bias=False, name='softmax0').apply,
                 Linear(input_dim=embedding_dim, name='softmax1').apply]),
            merged_dim=state_dim)
        self.sequence_generator = SequenceGenerator(
            readout=readout, transition=self.transition, attention=self.attention,
            fork=Fork([name for name in self.transition.apply.sequences
                       if name != 'mask'], prototype=Linear()))
        self.children = [self.sequence_generator]

    @application(inputs=['representation', 'source_sentence_mask',
                         'target_sentence_mask', 'target_sentence'],
                 outputs=['cost'])
    def cost(self, representation, source_sentence_mask, target_sentence,
             target_sentence_mask):
        source_sentence_mask = source_sentence_mask.T
        target_sentence = target_sentence.T
        target_sentence_mask = target_sentence_mask.T
        cost = self.sequence_generator.cost_matrix(
            **{'mask': target_sentence_mask, 'outputs': target_sentence,
               'attended': representation, 'attended_mask': source_sentence_mask})
        return (cost * target_sentence_mask).sum() / target_sentence_mask.shape[1]


def reversed_sequences(count, seed=1234):
    rng = numpy.random.RandomState(seed)
    sources, targets = [], []
    for _ in range(count):
        sequence = rng.randint(1, VOCABULARY, size=rng.randint(2, 6))
        sources.append(sequence)
        targets.append(sequence[::-1].copy())
    return {'source': sources, 'target': targets}


dataset = IterableDataset(reversed_sequences(3 * BATCH))
stream = DataStream(dataset)
stream = Batch(stream, iteration_scheme=ConstantScheme(BATCH))
stream = Padding(stream)

source_sentence = tensor.lmatrix('source')
source_sentence_mask = tensor.matrix('source_mask')
target_sentence = tensor.lmatrix('target')
target_sentence_mask = tensor.matrix('target_mask')

encoder = BidirectionalEncoder(VOCABULARY, EMBEDDING, STATE)
decoder = Decoder(VOCABULARY, EMBEDDING, STATE, 2 * STATE)
cost = decoder.cost(encoder.apply(source_sentence, source_sentence_mask),
                    source_sentence_mask, target_sentence, target_sentence_mask)
cost.name = 'decoder_cost'

encoder.weights_init = decoder.weights_init = IsotropicGaussian(0.1)
encoder.biases_init = decoder.biases_init = Constant(0)
encoder.push_initialization_config()
decoder.push_initialization_config()
encoder.bidir.prototype.weights_init = Orthogonal()
decoder.transition.weights_init = Orthogonal()
encoder.initialize()
decoder.initialize()

cg = ComputationGraph(cost)
readouts = VariableFilter(bricks=[decoder.sequence_generator.readout],
                          name_regex='output')(cg.variables)

training_model = Model(cost)
algorithm = GradientDescent(cost=cost, parameters=cg.parameters,
                            step_rule=CompositeRule([StepClipping(1.0), AdaDelta()]))

main_loop = MainLoop(
    model=training_model,
    algorithm=algorithm,
    data_stream=stream,
    extensions=[Timing(),
                FinishAfter(after_n_batches=3),
                TrainingDataMonitoring([cost], after_batch=True),
                Printing(after_batch=True),
                None])
main_loop.run()
