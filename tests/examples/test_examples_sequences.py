"""The sequence examples (markov_chain, reverse_words) in tiny configurations."""


import numpy as np
import pytest

from blocks.examples import markov_chain, reverse_words
from tests.examples.helpers import assert_cost_decreases, run


def test_markov_chain(tmp_path):
    main_loop, figures, out = run(markov_chain, [
        "--num-sequences", "40", "--length", "6", "--dim", "4", "--batch-size", "10",
        "--learning-rate", "0.05", "--num-epochs", "2", "--save-to", str(tmp_path / "r.tar")])
    assert_cost_decreases(main_loop, "test_log_loss_per_symbol", 2)
    learned = figures["learned_transitions"]
    assert learned.shape == (3, 3)
    np.testing.assert_allclose(learned.sum(axis=1), 1, rtol=1e-5)
    assert figures["transition_error"] == pytest.approx(
        abs(learned - markov_chain.TRANSITIONS).max())
    assert "Largest difference" in out


def test_chain_samples_follow_the_transitions():
    sequences = markov_chain.sample_chain(np.random.RandomState(0), 2000, 10)
    counts = np.zeros((3, 3))
    np.add.at(counts, (sequences[:, :-1].ravel(), sequences[:, 1:].ravel()), 1)
    np.testing.assert_allclose(counts / counts.sum(axis=1, keepdims=True),
                               markov_chain.TRANSITIONS, atol=0.02)


def test_learned_transitions_of_the_true_chain_are_the_true_ones():
    # A model that predicts exactly the chain's probabilities has no transition error.
    sequences = markov_chain.sample_chain(np.random.RandomState(1), 50, 8).T
    probabilities = np.full(sequences.shape + (3,), 1 / 3)
    probabilities[1:] = markov_chain.TRANSITIONS[sequences[:-1]]
    np.testing.assert_allclose(markov_chain.learned_transitions(probabilities, sequences),
                               markov_chain.TRANSITIONS)


def test_entropy_rate_against_a_long_sample():
    sequence = markov_chain.sample_chain(np.random.RandomState(2), 1, 20000)[0]
    empirical = -np.log(markov_chain.TRANSITIONS[sequence[:-1], sequence[1:]]).mean()
    assert markov_chain.entropy_rate() == pytest.approx(empirical, abs=0.02)


def test_reverse_words(tmp_path):
    main_loop, figures, out = run(reverse_words, [
        "--num-train", "24", "--max-length", "6", "--dim", "4", "--num-test", "3",
        "--beam-size", "2", "--batch-size", "12", "--learning-rate", "0.05",
        "--num-epochs", "2", "--save-to", str(tmp_path / "r.tar")])
    assert_cost_decreases(main_loop, "test_log_loss_per_character", 2)
    answers = figures["answers"]
    assert len(answers) == 3 and all(isinstance(answer, str) for answer in answers)
    assert set("".join(answers)) <= set(reverse_words.ALPHABET[2:])
    assert 0 <= figures["exact_share"] <= 1
    assert "of 3 held-out sentences" in out


def test_sentences_are_held_out_and_clean():
    train, test = reverse_words.load_sentences(24, 100)
    assert len(test) == 100 and len(train) > 1000
    assert not set(train) & set(test)
    for sentence in train[:200] + test:
        assert 0 < len(sentence) <= 24
        assert set(sentence) <= set(" abcdefghijklmnopqrstuvwxyz")
        assert sentence == " ".join(sentence.split())
    assert reverse_words.load_sentences(24, 100) == (train, test)


def test_examples_encode_source_and_reversed_target():
    data = reverse_words.examples(["ab cd"])
    assert reverse_words.decode(data["source"][0]) == "ab cd"
    assert data["source"][0][0] == reverse_words.CODES[reverse_words.BOS]
    assert reverse_words.decode(data["target"][0]) == "ba dc"
    assert data["target"][0][-1] == reverse_words.CODES[reverse_words.EOS]
