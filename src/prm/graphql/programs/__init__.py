"""GraphQL of channel programs, levels and enrolments."""
