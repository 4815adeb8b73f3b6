"""ChakraHQ: procedures (lead, ticket, ...) and their processes, queried with `where`."""
