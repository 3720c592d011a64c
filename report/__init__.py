"""What a run writes: its folder and files, the figures (what and when), and the index page."""
