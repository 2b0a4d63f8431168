// livesfu-load: placeholder until the load generator lands.
print("livesfu-load: not yet built")
