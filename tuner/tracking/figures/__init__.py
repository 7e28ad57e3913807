"""Figures and plots of trials and studies, drawn in a second process."""
