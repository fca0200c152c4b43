"""The help desk's core: the conversation engine, ticket store, people, staff actions and working hours."""
