"""The pure core of ODR: rules and values only, no I/O, no framework imports."""
