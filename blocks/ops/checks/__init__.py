"""Run-time checks that bricks put in their graphs: values pass through unchanged, and a
wrong one is refused with the brick's name and what was found."""
