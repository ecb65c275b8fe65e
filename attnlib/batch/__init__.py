"""The instructor's batch: the paper's grid, times seeds, one papermill notebook per run.

Its modules, one idea each:

    grid       reading the grid, each run's state, the plan, ``--status``
    jobs       one run as a job: papermill executes 07_training.ipynb into its run folder
    executors  where the jobs run (submitit's LocalExecutor here), what a run's job is doing now
    slurm      the grid on SLURM: its slurm options, one job array, squeue and sacct
    run        run_batch: plan, execute or submit, write failures and the summary
    summary    collect, aggregate and summarize the grid's results
"""
