"""One module per `bench` verb."""
