"""Core of the SOAR platform: settings, domain models, errors, configuration and Temporal plumbing."""
