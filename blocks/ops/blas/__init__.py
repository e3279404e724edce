"""Matrix products that call BLAS directly."""
