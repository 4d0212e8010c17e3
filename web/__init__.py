"""The end-user web frontend: wallet sign-in, markets, order ticket, live orders."""
