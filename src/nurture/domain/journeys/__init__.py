"""Journeys: the typed document (trigger, entry settings, nodes, edges, exit criteria, goal), its graph
checks, and (later) the pure step function the engine, the simulator and explanations share."""
