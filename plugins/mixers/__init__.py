"""Built-in mixers: ``cvxpy`` (Cookbook-Mix, a convex program over the simplex), ``uniform`` and
``fixed`` (weights given in the pipeline). numpy and cvxpy load when a mixer runs."""

from cookbook import hookimpl
from cookbook_plugins.mixers import convex, simple


@hookimpl
def register_mixers(register):
    register(convex.CvxpyMixer())
    register(simple.UniformMixer())
    register(simple.FixedMixer())
