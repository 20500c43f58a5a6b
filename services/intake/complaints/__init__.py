"""Complaints (投诉): recorded by the station or filed online through a status link, moved through GB/T 19012 stages."""
