# ctl: see the folder's files for what each does.
