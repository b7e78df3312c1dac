"""What the notebook generator scripts share: cells with stable ids, and the .ipynb written as Jupyter does."""
import json

class Notebook:
    def __init__(self):
        self.cells = []

    def md(self, text):
        self.cells.append({"cell_type": "markdown", "id": f"c{len(self.cells):02d}", "metadata": {}, "source": text.strip("\n")})

    def code(self, text, tags=None):
        self.cells.append({"cell_type": "code", "id": f"c{len(self.cells):02d}", "metadata": {"tags": tags} if tags else {},
                           "source": text.strip("\n"), "outputs": [], "execution_count": None})

    def write(self, out):
        """Write the notebook (tslab kernel, outputs cleared) to `out`."""
        cells = []
        for cell in self.cells:  # Jupyter stores sources as lists of lines
            text = cell["source"]
            cells.append({**cell, "source": [line + "\n" for line in text.split("\n")[:-1]] + [text.split("\n")[-1]]})
        notebook = {
            "cells": cells,
            "metadata": {
                "kernelspec": {"name": "tslab", "display_name": "TypeScript (tslab)", "language": "typescript"},
                "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        with open(out, "w") as f:
            json.dump(notebook, f, indent=1, ensure_ascii=False)
            f.write("\n")
