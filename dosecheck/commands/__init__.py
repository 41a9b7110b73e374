"""The CLI's commands, one module each; ``dosecheck.cli`` registers them."""
