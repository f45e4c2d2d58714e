"""Every workbook and sheet the product writes, one module per document; printed.py is the look
they share, cells.py the one way a cell is written. Building a document reads nothing: the
caller (a command in cli/, the worker's export runner) hands it the rows."""
