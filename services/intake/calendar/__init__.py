"""Working-day corrections (法定节假日、调休) the demands' expected dates are counted with."""
