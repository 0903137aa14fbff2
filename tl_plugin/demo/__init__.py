"""`tl-demo`: TL-Training end to end on a CPU, the paper's ablation (Table 5) in small.

data.py builds the run's pieces (task split, synthetic trajectories, tokenizer, tiny model, the SFT and RL
datasets through the OpenRLHF path's own classes), train.py trains a variant (SFT with transformers' Trainer, IRM
with TRL's GRPOTrainer) and evaluates it with tl_plugin.eval at fixed steps, report.py writes the tables and
figures, cli.py runs the variants and seeds.
"""
