"""reverse_words with --model transformer, in a tiny configuration."""

from blocks.bricks.transformer import TransformerEncoder, TransformerTransition
from blocks.examples import reverse_words
from tests.examples.helpers import assert_cost_decreases, run


def test_reverse_words_with_a_transformer(tmp_path):
    main_loop, figures, out = run(reverse_words, [
        "--model", "transformer", "--num-layers", "1", "--num-heads", "2",
        "--num-train", "24", "--max-length", "6", "--dim", "4", "--num-test", "3",
        "--beam-size", "2", "--batch-size", "12", "--learning-rate", "0.05",
        "--num-epochs", "2", "--save-to", str(tmp_path / "r.tar")])
    assert_cost_decreases(main_loop, "test_log_loss_per_character", 2)
    embedding, fork, encoder, generator = main_loop.example_extras["bricks"]
    assert fork is None and isinstance(encoder, TransformerEncoder)
    assert isinstance(generator.transition.transition, TransformerTransition)
    answers = figures["answers"]
    assert len(answers) == 3
    assert set("".join(answers)) <= set(reverse_words.ALPHABET[2:])
    assert "of 3 held-out sentences" in out
