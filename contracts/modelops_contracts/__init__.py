"""What crosses a process boundary between the pods and the operator, defined once.

Both sides import these definitions; neither writes the other's keys by hand. This
package depends on nothing but the standard library, so every image can ship it.
"""
