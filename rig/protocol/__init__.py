"""Protocol and rig files: models, validation problems, expansion into a Plan, plan summary."""
