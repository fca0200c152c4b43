"""Vietnamese text: normalisation, analysis and the FAQ matcher. Knows nothing of people, tickets or messengers."""
