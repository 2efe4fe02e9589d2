"""Who is asking: accounts' passwords and tokens, sign-in, and what each role may see."""
