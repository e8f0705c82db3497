"""Post-training of many experimental tasks in parallel with Ray Tune (launch/posttrain.py sweep=...).

config.py: the sweep's schema; space.py: the configurations each arm gets (the same ones);
scheduler.py: ASHA run separately for each comparable group of trials; trial.py: one
post-training run as a Tune trainable; sweep.py: the driver (Ray, Tuner, test once, report).
"""
