"""Jobs: the whole config check and the resolved description of every training and evaluation job."""
