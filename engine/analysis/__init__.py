"""Analysis of trained models: evaluation reports, comparisons, risk monitors."""
