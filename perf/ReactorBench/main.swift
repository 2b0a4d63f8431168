import Reactor
print("reactor bench: not yet")
