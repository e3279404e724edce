# The migration scripts are programs run by test_migration.py, not modules to import
# (--doctest-modules would import them, and so run them, at collection).
collect_ignore = ["blocks_attention_translation.py", "blocks_mnist_mlp.py"]
