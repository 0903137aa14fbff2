"""TL-Training for OpenRLHF: the error taxonomy, call parsing and judging, MAE, PKT and the IRM reward."""
