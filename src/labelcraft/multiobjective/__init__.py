"""Multi-objective prediction from raw feedback: tasks, loss, ESMM chaining, fusion, metrics."""
