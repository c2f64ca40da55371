"""Neural Network Console datasets: reading dataset CSVs and explaining every row."""
