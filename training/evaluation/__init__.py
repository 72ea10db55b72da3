"""The evaluation part of training: metrics, `nigehbaan evaluate`, external checks on public
data, plots and the model card."""
