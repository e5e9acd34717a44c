"""Tests of the artefact services: object store, locks, downloads, mirrors, archives."""
