"""`plantwatch report`: a self-contained static web report of a monitoring run."""
